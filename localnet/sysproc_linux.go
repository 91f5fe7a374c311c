package localnet

import "syscall"

// sysProcAttr: a detached node gets its own session; a child node is
// killed when the process that started it dies (a test that times out
// leaves no validator behind).
func sysProcAttr(detach bool) *syscall.SysProcAttr {
	if detach {
		return &syscall.SysProcAttr{Setsid: true}
	}
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
