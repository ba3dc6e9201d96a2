/* Linked into every C and C++ cell program (a separate translation unit, so cell line numbers stay put).
 * Line-buffers stdout, so a prompt printed before reading stdin is shown before the input request, and on a
 * fatal signal prints a marker line and a raw backtrace that the kernel turns into cell:line frames. */
#define _GNU_SOURCE
#include <execinfo.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void interview_crash_handler(int sig) {
    char line[160];
    void *frames[64];
    int n, len;
    len = snprintf(line, sizeof line, "*** interview-kernel: fatal signal %d (%s)\n", sig, sigabbrev_np(sig));
    fflush(stdout);
    if (len > 0) (void)!write(2, line, (size_t)len);
    n = backtrace(frames, 64);
    backtrace_symbols_fd(frames, n, 2);
    signal(sig, SIG_DFL);
    raise(sig);
}

__attribute__((constructor)) static void interview_crash_init(void) {
    static char altstack[1 << 16];
    stack_t ss;
    struct sigaction sa;
    void *warm[1];
    int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
    unsigned i;

    setvbuf(stdout, NULL, _IOLBF, 0);
    backtrace(warm, 1); /* loads libgcc_s now, not inside the handler */
    memset(&ss, 0, sizeof ss);
    ss.ss_sp = altstack;
    ss.ss_size = sizeof altstack;
    sigaltstack(&ss, NULL); /* a stack overflow still gets its trace */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = interview_crash_handler;
    sa.sa_flags = SA_ONSTACK | SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaction(sigs[i], &sa, NULL);
}
