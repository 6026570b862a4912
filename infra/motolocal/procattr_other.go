//go:build !linux

package motolocal

import "syscall"

func procAttr() *syscall.SysProcAttr { return nil }
