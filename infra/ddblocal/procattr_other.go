//go:build !linux

package ddblocal

import "syscall"

func procAttr() *syscall.SysProcAttr { return nil }
