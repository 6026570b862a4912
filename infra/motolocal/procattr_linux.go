package motolocal

import "syscall"

// procAttr ties the server's life to ours: if a test binary is killed,
// moto_server goes with it.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
