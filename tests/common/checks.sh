# Helpers every VM check script sources (tests/common/vm.rs puts this file
# at /checks-lib.sh): one "CHECK <name> ok|FAIL: why" line per check on
# the console, which the test reads.
ok() { echo "CHECK $1 ok"; }
fail() { echo "CHECK $1 FAIL: $2"; }
# expect NAME WANT GOT
expect() { if [ "$2" = "$3" ]; then ok "$1"; else fail "$1" "wanted '$2', got '$3'"; fi; }
# wait_for CONDITION: poll for up to 30 s.
wait_for() {
    i=0
    while ! eval "$1"; do
        i=$((i + 1))
        [ $i -gt 300 ] && return 1
        sleep 0.1
    done
}
