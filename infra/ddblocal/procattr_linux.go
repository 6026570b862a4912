package ddblocal

import "syscall"

// procAttr ties the server's life to ours: if a test binary is killed, the
// JVM goes with it instead of holding a port and memory.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
