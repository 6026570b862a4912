package lambdarun

import "syscall"

// procAttr ties the emulator's life to ours: if the caller is killed (a
// test timeout, kill -9), the emulator gets SIGTERM and ends the bootstrap
// with it instead of both living on with their ports.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
