#!/bin/sh
# run-qemu.sh [NAME...] - boot guest kernels under QEMU (TCG) and compare each
# run's UART output and exit status with what guests.json records for QEMU.
#
#   sh test/guests/run-qemu.sh                   every guest once
#   ICOUNT="0 4 8" sh test/guests/run-qemu.sh    once more per -icount shift,
#                                                 which changes how timer
#                                                 interrupts fall (the output
#                                                 must not change)
#
# Needs qemu-system-i386 and, for a guest whose qemu.system says so (paging64),
# qemu-system-x86_64 (apt-get install -y qemu-system-x86), and node (to read
# guests.json).
set -u
cd "$(dirname "$0")"
names=${*:-$(node -e 'for (const g of require("./guests.json").guests) console.log(g.name)')}
passed=0
failed=0
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
for name in $names; do
    set -- $(node -e '
        const g = require("./guests.json").guests.find((g) => g.name === process.argv[1]);
        if (!g) process.exit(1);
        console.log(g.image, g.qemu.cpu, g.qemu.expected, g.qemu.exitStatus, g.qemu.system ?? "qemu-system-i386");' "$name") || {
        echo "no guest named $name"; failed=$((failed + 1)); continue; }
    image=$1 cpu=$2 expected=$3 want=$4 system=$5
    for icount in "" ${ICOUNT:-}; do
        opt=""
        [ -n "$icount" ] && opt="-icount shift=$icount"
        timeout 300 "$system" -kernel "$image" -display none -vga none -net none \
            -serial stdio -monitor none -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
            -m 64 -cpu "$cpu" $opt > "$tmp"
        got=$?
        label="$name${icount:+ (icount shift=$icount)}"
        if [ "$got" -ne "$want" ]; then
            echo "FAIL $label: exit status $got, want $want"; failed=$((failed + 1))
        elif ! cmp -s "$tmp" "$expected"; then
            echo "FAIL $label: output differs from $expected:"; diff "$expected" "$tmp" | head -n 20
            failed=$((failed + 1))
        else
            echo "ok   $label"; passed=$((passed + 1))
        fi
    done
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
