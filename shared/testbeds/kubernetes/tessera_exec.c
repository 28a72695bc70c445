/* tessera-exec: the command of a Kubernetes run's main container (any image, no Python).

   The init container (Tessera's own image) copies this static binary into the pod's shared
   emptyDir; the main container, in the user's image, runs it with the user's command:

       tessera-exec [-t SECONDS] [-m MESSAGE_PATH] [-c CAP] [-o GLOB]... -- ARGV...

   ARGV is exec'd as given (execvp: the image's PATH), in its own session, stdin /dev/null.
   Kubernetes keeps one log per container with both streams mixed, so stdout and stderr are
   framed on the container's stdout, one record a line, the order kept:

       # tessera-exec 1        the header (first line)
       o <bytes>\n             stdout bytes that ended in a newline
       o+<bytes>\n             stdout bytes without one (the \n is framing only)
       e <bytes>\n, e+<bytes>\n   the same for stderr

   shared/testbeds/kubernetes/parse.py (`demux`) splits the log back into the two streams.
   With -o (a workflow task's outputs, globs relative to the working directory) and a command
   that exited 0, the matching regular files follow on stdout as records after the streams
   (`parse.outputs` reads them; shared/runner.py does the same for the other testbeds):

       O <number of globs>     the outputs begin
       f <base64 path>         a file, then its content as lines `d <base64>`
       x <reason>              over the cap (-c, bytes in all): no file is sent
       F                       the outputs end ("F ": absent, the log was cut before it)

   glob(3) without flags: `*` never matches a leading dot, and `**` is `*` (not recursive).
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
#include <glob.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KILL_GRACE_S 10.0
#define DRAIN_S 5.0
#define CHUNK 65536
#define MAX_GLOBS 64
#define MAX_FILES 10000
#define OUTPUTS_FILE ".tessera-outputs.json" /* the job file naming the globs: never an output */

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

/* data as base64 into out (4 * ceil(length / 3) bytes, no terminator). */
static size_t base64(const unsigned char *data, size_t length, char *out) {
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t used = 0;
    for (size_t i = 0; i < length; i += 3) {
        unsigned long n = (unsigned long)data[i] << 16;
        if (i + 1 < length) n |= (unsigned long)data[i + 1] << 8;
        if (i + 2 < length) n |= data[i + 2];
        out[used++] = alphabet[(n >> 18) & 63];
        out[used++] = alphabet[(n >> 12) & 63];
        out[used++] = i + 1 < length ? alphabet[(n >> 6) & 63] : '=';
        out[used++] = i + 2 < length ? alphabet[n & 63] : '=';
    }
    return used;
}

/* One record: the tag, a space, text base64-encoded (or as it is), a newline. */
static void record(char tag, const unsigned char *data, size_t length, int encode) {
    static char out[CHUNK * 2 + 8];
    out[0] = tag;
    out[1] = ' ';
    size_t used = 2;
    if (encode) {
        used += base64(data, length, out + used);
    } else {
        memcpy(out + used, data, length);
        used += length;
    }
    out[used++] = '\n';
    write_all(STDOUT_FILENO, out, used);
}

/* The files matching the globs (relative, regular, each once) as records. */
static void send_outputs(char **globs, int count, unsigned long long cap) {
    char line[64];
    int n = snprintf(line, sizeof line, "O %d\n", count);
    write_all(STDOUT_FILENO, line, (size_t)n);
    static char *found[MAX_FILES];
    int files = 0;
    unsigned long long total = 0;
    glob_t matched[MAX_GLOBS];
    for (int g = 0; g < count; g++) {
        memset(&matched[g], 0, sizeof matched[g]);
        if (glob(globs[g], 0, NULL, &matched[g]) != 0) continue;
        for (size_t i = 0; i < matched[g].gl_pathc && files < MAX_FILES; i++) {
            char *path = matched[g].gl_pathv[i];
            struct stat info;
            int seen = strcmp(path, OUTPUTS_FILE) == 0 || strncmp(path, "../", 3) == 0;
            for (int k = 0; k < files && !seen; k++) seen = strcmp(found[k], path) == 0;
            if (seen || stat(path, &info) != 0 || !S_ISREG(info.st_mode)) continue;
            found[files++] = path;
            total += (unsigned long long)info.st_size;
        }
    }
    if (cap && total > cap) {
        n = snprintf(line, sizeof line, "outputs are %llu bytes, over %llu", total, cap);
        record('x', (const unsigned char *)line, (size_t)n, 0);
    } else {
        static unsigned char chunk[CHUNK - CHUNK % 3]; /* whole base64 groups a line */
        for (int k = 0; k < files; k++) {
            int fd = open(found[k], O_RDONLY | O_CLOEXEC);
            if (fd < 0) continue;
            record('f', (const unsigned char *)found[k], strlen(found[k]), 1);
            ssize_t got;
            while ((got = read(fd, chunk, sizeof chunk)) > 0) {
                record('d', chunk, (size_t)got, 1);
            }
            close(fd);
        }
    }
    for (int g = 0; g < count; g++) globfree(&matched[g]);
    write_all(STDOUT_FILENO, "F \n", 3);
}

static void usage_error(void) {
    const char *text =
        "usage: tessera-exec [-t SECONDS] [-m MESSAGE_PATH] [-c CAP] [-o GLOB]... -- ARGV...\n";
    write_all(STDERR_FILENO, text, strlen(text));
    exit(2);
}

int main(int argc, char **argv) {
    double timeout = 0;
    const char *message = NULL;
    char *globs[MAX_GLOBS];
    int glob_count = 0;
    unsigned long long cap = 0;
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
        } else if (strcmp(argv[index], "-o") == 0 && index + 1 < argc && glob_count < MAX_GLOBS) {
            globs[glob_count++] = argv[++index];
        } else if (strcmp(argv[index], "-c") == 0 && index + 1 < argc) {
            char *rest;
            cap = strtoull(argv[++index], &rest, 10);
            if (*rest) usage_error();
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
    if (glob_count && code == 0 && !timed_out && !cancelled) send_outputs(globs, glob_count, cap);
    status(message, start, code, name, timed_out, counts[0], counts[1], &usage, NULL);
    return code;
}
