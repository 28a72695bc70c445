/* tessera-exec: the command of a Kubernetes run's main container (any image, no Python).

   The init container (Tessera's own image) copies this static binary into the pod's shared
   emptyDir; the main container, in the user's image, runs it with the user's command:

       tessera-exec [-t SECONDS] [-m MESSAGE_PATH] -- ARGV...

   ARGV is exec'd as given (execvp: the image's PATH), in its own session, stdin /dev/null.
   Kubernetes keeps one log per container with both streams mixed, so stdout and stderr are
   framed on the container's stdout, one record a line, the order kept:

       # tessera-exec 1        the header (first line)
       o <bytes>\n             stdout bytes that ended in a newline
       o+<bytes>\n             stdout bytes without one (the \n is framing only)
       e <bytes>\n, e+<bytes>\n   the same for stderr

   shared/testbeds/kubernetes/parse.py (`demux`) splits the log back into the two streams.
   The timeout (-t) sends SIGTERM to the command's process group and SIGKILL 10 s later;
   SIGTERM or SIGINT to this process (the pod deleted: the run cancelled) is passed on the
   same way. At the end a status document (JSON: times, exit code, signal, timed_out,
   cancelled, byte counts, rusage) goes to MESSAGE_PATH, the container's termination message,
   and the process exits with the command's exit code (128 + n for signal n; 127 when the
   command is not found, 126 when it cannot be executed).

   Plain C99 + POSIX, built static (deploy/docker/Dockerfile) so it runs in any image of the
   node's architecture, scratch and distroless included. */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KILL_GRACE_S 10.0
#define DRAIN_S 5.0
#define CHUNK 65536

static int wake[2] = {-1, -1};
static volatile sig_atomic_t cancelled = 0;

static void on_signal(int number) {
    int saved = errno;
    cancelled = 1;
    if (write(wake[1], "x", 1) < 0) { /* the pipe is full: poll wakes anyway */ }
    errno = saved;
    (void)number;
}

static double monotonic(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static void iso_now(char *out, size_t size) {
    struct timespec now;
    struct tm parts;
    char base[24];
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &parts);
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &parts);
    snprintf(out, size, "%s.%03dZ", base, (int)((now.tv_nsec / 1000000L) % 1000));
}

static void write_all(int fd, const char *data, size_t length) {
    while (length > 0) {
        ssize_t done = write(fd, data, length);
        if (done < 0) {
            if (errno == EINTR) continue;
            return; /* the log is gone: nothing to write to */
        }
        data += done;
        length -= (size_t)done;
    }
}

/* One chunk of a stream as records: a line each, `t ` when it ended in a newline, `t+` when
   not. Built in one buffer and written at once. */
static void emit(char tag, const char *data, size_t length) {
    static char out[CHUNK * 3 + 16]; /* worst case: every byte a newline */
    size_t used = 0;
    while (length > 0) {
        const char *newline = memchr(data, '\n', length);
        size_t take = newline ? (size_t)(newline - data) + 1 : length;
        out[used++] = tag;
        out[used++] = newline ? ' ' : '+';
        memcpy(out + used, data, take);
        used += take;
        if (!newline) out[used++] = '\n';
        data += take;
        length -= take;
    }
    write_all(STDOUT_FILENO, out, used);
}

static const char *signal_name(int number) {
    switch (number) {
        case SIGHUP: return "SIGHUP";
        case SIGINT: return "SIGINT";
        case SIGQUIT: return "SIGQUIT";
        case SIGILL: return "SIGILL";
        case SIGTRAP: return "SIGTRAP";
        case SIGABRT: return "SIGABRT";
        case SIGBUS: return "SIGBUS";
        case SIGFPE: return "SIGFPE";
        case SIGKILL: return "SIGKILL";
        case SIGUSR1: return "SIGUSR1";
        case SIGSEGV: return "SIGSEGV";
        case SIGUSR2: return "SIGUSR2";
        case SIGPIPE: return "SIGPIPE";
        case SIGALRM: return "SIGALRM";
        case SIGTERM: return "SIGTERM";
        case SIGXCPU: return "SIGXCPU";
        case SIGXFSZ: return "SIGXFSZ";
        case SIGSYS: return "SIGSYS";
        default: {
            static char other[24];
            snprintf(other, sizeof other, "signal %d", number);
            return other;
        }
    }
}

/* A JSON string (quoted, escaped) of text into out. */
static void json_string(char *out, size_t size, const char *text) {
    size_t used = 0;
    if (size < 3) return;
    out[used++] = '"';
    for (; *text && used + 8 < size; text++) {
        unsigned char c = (unsigned char)*text;
        if (c == '"' || c == '\\') {
            out[used++] = '\\';
            out[used++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            used += (size_t)snprintf(out + used, size - used, "\\u%04x", c);
        } else {
            out[used++] = (char)c;
        }
    }
    out[used++] = '"';
    out[used] = '\0';
}

static void status(const char *path, const char *start, int code, const char *signal,
                   int timed_out, unsigned long long out_bytes, unsigned long long err_bytes,
                   const struct rusage *usage, const char *error) {
    char end[40], signal_json[32], error_json[1200], text[2048];
    iso_now(end, sizeof end);
    if (signal) snprintf(signal_json, sizeof signal_json, "\"%s\"", signal);
    else snprintf(signal_json, sizeof signal_json, "null");
    if (error) json_string(error_json, sizeof error_json, error);
    else snprintf(error_json, sizeof error_json, "null");
    int length = snprintf(
        text, sizeof text,
        "{\"runner\": \"tessera-exec 1\", \"start\": \"%s\", \"end\": \"%s\", \"exit_code\": %d, "
        "\"signal\": %s, \"timed_out\": %s, \"cancelled\": %s, \"stdout_bytes\": %llu, "
        "\"stderr_bytes\": %llu, \"usage\": {\"ru_utime\": %.6f, \"ru_stime\": %.6f, "
        "\"ru_maxrss\": %ld}, \"error\": %s}",
        start, end, code, signal_json, timed_out ? "true" : "false",
        cancelled ? "true" : "false", out_bytes, err_bytes,
        (double)usage->ru_utime.tv_sec + (double)usage->ru_utime.tv_usec / 1e6,
        (double)usage->ru_stime.tv_sec + (double)usage->ru_stime.tv_usec / 1e6,
        usage->ru_maxrss, error_json);
    if (!path || length < 0) return;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        char note[512];
        int n = snprintf(note, sizeof note, "# cannot write %s: %s\n", path, strerror(errno));
        if (n > 0) write_all(STDOUT_FILENO, note, (size_t)n);
        return;
    }
    write_all(fd, text, (size_t)length);
    close(fd);
}

static void usage_error(void) {
    const char *text = "usage: tessera-exec [-t SECONDS] [-m MESSAGE_PATH] -- ARGV...\n";
    write_all(STDERR_FILENO, text, strlen(text));
    exit(2);
}

int main(int argc, char **argv) {
    double timeout = 0;
    const char *message = NULL;
    int index = 1;
    for (; index < argc; index++) {
        if (strcmp(argv[index], "--") == 0) {
            index++;
            break;
        }
        if (strcmp(argv[index], "-t") == 0 && index + 1 < argc) {
            char *rest;
            timeout = strtod(argv[++index], &rest);
            if (*rest || timeout < 0) usage_error();
        } else if (strcmp(argv[index], "-m") == 0 && index + 1 < argc) {
            message = argv[++index];
        } else {
            usage_error();
        }
    }
    if (index >= argc) usage_error();
    char **command = argv + index;

    char start[40];
    iso_now(start, sizeof start);
    write_all(STDOUT_FILENO, "# tessera-exec 1\n", 17);

    int out[2], err[2], failed[2];
    if (pipe2(wake, O_CLOEXEC | O_NONBLOCK) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC) ||
        pipe2(failed, O_CLOEXEC)) {
        perror("tessera-exec: pipe");
        return 125;
    }
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGINT, &action, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (!getenv("HOME")) {
        char here[4096];
        if (getcwd(here, sizeof here)) setenv("HOME", here, 0);
    }

    pid_t child = fork();
    if (child < 0) {
        perror("tessera-exec: fork");
        return 125;
    }
    if (child == 0) {
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        setsid();
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0) dup2(null, STDIN_FILENO);
        dup2(out[1], STDOUT_FILENO);
        dup2(err[1], STDERR_FILENO);
        execvp(command[0], command);
        int error = errno;
        if (write(failed[1], &error, sizeof error) < 0) { /* the parent sees EOF */ }
        _exit(127);
    }
    close(out[1]);
    close(err[1]);
    close(failed[1]);

    int exec_error = 0;
    ssize_t got;
    do {
        got = read(failed[0], &exec_error, sizeof exec_error);
    } while (got < 0 && errno == EINTR);
    close(failed[0]);
    if (got != (ssize_t)sizeof exec_error) exec_error = 0;

    unsigned long long counts[2] = {0, 0};
    int fds[2] = {out[0], err[0]};
    const char tags[2] = {'o', 'e'};
    static char chunk[CHUNK];
    struct rusage usage;
    memset(&usage, 0, sizeof usage);
    int wait_status = 0, reaped = 0, timed_out = 0, termed = 0;
    double now = monotonic(), deadline = now + timeout, term_at = 0, reaped_at = 0;

    for (;;) {
        now = monotonic();
        /* As the container's PID 1 this also reaps the orphans the command leaves. */
        for (;;) {
            int other_status;
            struct rusage other;
            pid_t done = wait4(-1, &other_status, WNOHANG, &other);
            if (done <= 0) break;
            if (done == child) {
                reaped = 1;
                reaped_at = now;
                wait_status = other_status;
                usage = other;
            }
        }
        if (reaped && ((fds[0] < 0 && fds[1] < 0) || now - reaped_at > DRAIN_S)) break;
        if (!reaped) {
            if (timeout > 0 && now > deadline) timed_out = 1;
            if ((timed_out || cancelled) && !termed) {
                termed = 1;
                term_at = now;
                kill(-child, SIGTERM);
            }
            if (termed && now - term_at > KILL_GRACE_S) kill(-child, SIGKILL);
        }
        struct pollfd polled[3];
        int n = 0, which[3];
        for (int i = 0; i < 2; i++) {
            if (fds[i] >= 0) {
                polled[n].fd = fds[i];
                polled[n].events = POLLIN;
                which[n++] = i;
            }
        }
        polled[n].fd = wake[0];
        polled[n].events = POLLIN;
        which[n++] = -1;
        if (poll(polled, (nfds_t)n, 50) < 0 && errno != EINTR) break;
        for (int k = 0; k < n; k++) {
            if (!(polled[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            int i = which[k];
            if (i < 0) {
                char drained[64];
                while (read(wake[0], drained, sizeof drained) > 0) {
                }
                continue;
            }
            ssize_t length = read(fds[i], chunk, sizeof chunk);
            if (length > 0) {
                counts[i] += (unsigned long long)length;
                emit(tags[i], chunk, (size_t)length);
            } else if (length == 0 || errno != EINTR) {
                close(fds[i]);
                fds[i] = -1;
            }
        }
    }

    if (exec_error) {
        char error[1024];
        snprintf(error, sizeof error, "could not start %s: %s", command[0], strerror(exec_error));
        char line[1100];
        int length = snprintf(line, sizeof line, "tessera-exec: %s\n", error);
        if (length > 0) {
            counts[1] += (unsigned long long)length;
            emit('e', line, (size_t)length);
        }
        int code = (exec_error == ENOENT || exec_error == ENOTDIR) ? 127 : 126;
        status(message, start, code, NULL, 0, counts[0], counts[1], &usage, error);
        return code;
    }
    int code;
    const char *name = NULL;
    if (WIFSIGNALED(wait_status)) {
        code = 128 + WTERMSIG(wait_status);
        name = signal_name(WTERMSIG(wait_status));
    } else {
        code = WEXITSTATUS(wait_status);
    }
    status(message, start, code, name, timed_out, counts[0], counts[1], &usage, NULL);
    return code;
}
