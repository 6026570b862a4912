//go:build !linux

package lambdarun

import "syscall"

func procAttr() *syscall.SysProcAttr { return nil }
