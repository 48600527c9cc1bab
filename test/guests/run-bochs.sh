#!/bin/sh
# run-bochs.sh [NAME...] - boot guest kernels under Bochs (a second, independent
# emulator that, unlike QEMU TCG, models the PAE PDPTE registers and the P bit
# of reserved-bit page faults) and compare each run's UART output with
# NAME/NAME.expected. Bochs has no isa-debug-exit device, so each run is stopped by
# a timeout (BOCHS_SECONDS, default 200) and only the output is compared.
#
# Needs (Debian): apt-get install -y bochs bochs-x bochsbios vgabios
#   grub-pc-bin grub-common xorriso mtools xvfb xauth
# GRUB boots the kernel from an ISO image (Bochs loads no Multiboot kernel
# itself). CPU model: core2_penryn_t9600 (PAE, NX, SEP); for paging64
# tigerlake (long mode, 1 GiB pages, PCID, INVPCID; no model of Bochs 2.7 has
# LA57, so paging64 skips its 5-level run and prints paging64.bochs.expected).
set -u
cd "$(dirname "$0")"
names=${*:-paging32 pae_nx multitask exceptions semantics access}
seconds=${BOCHS_SECONDS:-200}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0
for name in $names; do
    model=core2_penryn_t9600
    expected="$name/$name.expected"
    if [ "$name" = paging64 ]; then model=tigerlake; expected=paging64/paging64.bochs.expected; fi
    mkdir -p "$tmp/$name/iso/boot/grub"
    cp "$name/$name.elf" "$tmp/$name/iso/boot/kernel.elf"
    printf 'set timeout=0\nset default=0\nmenuentry "%s" {\n  multiboot /boot/kernel.elf\n  boot\n}\n' "$name" \
        > "$tmp/$name/iso/boot/grub/grub.cfg"
    grub-mkrescue -o "$tmp/$name/boot.iso" "$tmp/$name/iso" > /dev/null 2>&1
    cat > "$tmp/$name/bochsrc" <<RC
megs: 64
romimage: file=/usr/share/bochs/BIOS-bochs-latest
vgaromimage: file=/usr/share/vgabios/vgabios.bin
ata0-master: type=cdrom, path=$tmp/$name/boot.iso, status=inserted
boot: cdrom
cpu: model=$model, ips=50000000
com1: enabled=1, mode=file, dev=$tmp/$name/uart.out
display_library: x
log: $tmp/$name/bochs.log
clock: sync=none, time0=1
RC
    echo c > "$tmp/$name/debugger.rc"       # Debian's bochs starts in its debugger
    timeout "$seconds" xvfb-run -a bochs -q -f "$tmp/$name/bochsrc" -rc "$tmp/$name/debugger.rc" \
        > "$tmp/$name/bochs.stdout" 2>&1
    if cmp -s "$tmp/$name/uart.out" "$expected"; then
        echo "ok   $name"; passed=$((passed + 1))
    else
        echo "FAIL $name: output differs from $expected:"
        diff "$expected" "$tmp/$name/uart.out" | head -n 20
        failed=$((failed + 1))
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
