// A small WASI program for tandem's wasm examples and tests.
//   wasi-demo                 print a greeting
//   wasi-demo args A B ...    print each argument
//   wasi-demo env NAME        print $NAME
//   wasi-demo cat PATH        print a file
//   wasi-demo write PATH TEXT write TEXT to PATH
//   wasi-demo exit N          exit with status N
//   wasi-demo spin            loop forever
//   wasi-demo alloc MIB       allocate and touch MIB MiB
//   wasi-demo count PATH      write 0, 1, 2, ... to PATH, one every 50 ms
//   wasi-demo stat PATH       print the size of the file PATH names
//   wasi-demo readlink PATH   print the target of the link PATH
//   wasi-demo rm PATH         remove PATH
// Build: clang --target=wasm32-wasi --sysroot=/usr -O2 -o wasi-demo.wasm wasi-demo.c
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 2) {
        printf("hello from wasm, inside a tandem container\n");
        return 0;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "args")) {
        for (int i = 0; i < argc; i++) printf("argv[%d]=%s\n", i, argv[i]);
    } else if (!strcmp(cmd, "env") && argc > 2) {
        const char *v = getenv(argv[2]);
        printf("%s=%s\n", argv[2], v ? v : "(unset)");
    } else if (!strcmp(cmd, "cat") && argc > 2) {
        FILE *f = fopen(argv[2], "r");
        if (!f) { perror(argv[2]); return 2; }
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, n, stdout);
        fclose(f);
    } else if (!strcmp(cmd, "write") && argc > 3) {
        FILE *f = fopen(argv[2], "w");
        if (!f) { perror(argv[2]); return 2; }
        fputs(argv[3], f);
        fclose(f);
    } else if (!strcmp(cmd, "exit") && argc > 2) {
        fflush(stdout);
        exit(atoi(argv[2]));
    } else if (!strcmp(cmd, "spin")) {
        printf("spinning\n");
        fflush(stdout);
        for (volatile unsigned long i = 0;; i++) {}
    } else if (!strcmp(cmd, "alloc") && argc > 2) {
        int mib = atoi(argv[2]);
        // Keep every block and read it back, so the compiler cannot drop them.
        char **blocks = calloc(mib, sizeof *blocks);
        unsigned long sum = 0;
        for (int i = 0; i < mib; i++) {
            blocks[i] = malloc(1 << 20);
            if (!blocks[i]) { printf("malloc failed after %d MiB\n", i); return 3; }
            memset(blocks[i], 1, 1 << 20);
        }
        for (int i = 0; i < mib; i++) sum += (unsigned char)blocks[i][i];
        printf("allocated %d MiB (%lu)\n", mib, sum);
    } else if (!strcmp(cmd, "count") && argc > 2) {
        // The count lives in linear memory: a restored module goes on
        // from where it was, not from 0.
        struct timespec pause = {0, 50 * 1000 * 1000};
        for (unsigned long i = 0;; i++) {
            FILE *f = fopen(argv[2], "w");
            if (!f) { perror(argv[2]); return 2; }
            fprintf(f, "%lu\n", i);
            fclose(f);
            nanosleep(&pause, NULL);
        }
    } else if (!strcmp(cmd, "stat") && argc > 2) {
        struct stat st;
        if (stat(argv[2], &st)) { perror(argv[2]); return 2; }
        printf("%lld\n", (long long)st.st_size);
    } else if (!strcmp(cmd, "readlink") && argc > 2) {
        char target[4096];
        ssize_t n = readlink(argv[2], target, sizeof target - 1);
        if (n < 0) { perror(argv[2]); return 2; }
        target[n] = 0;
        printf("%s\n", target);
    } else if (!strcmp(cmd, "rm") && argc > 2) {
        if (unlink(argv[2])) { perror(argv[2]); return 2; }
    } else {
        fprintf(stderr, "unknown command %s\n", cmd);
        return 64;
    }
    return 0;
}
