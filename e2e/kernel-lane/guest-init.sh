#!/bin/busybox sh
# /init of the kernel lane's initramfs: load virtio + 9p, mount the host's / read-only over 9p, load the
# link kinds under test from the Debian kernel's modules, give the repo a tmpfs overlay, then run
# guest-tests.sh chrooted into the host tree.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /mods/order); do insmod "/mods/$m" || echo "kernel-lane: insmod $m failed"; done
mkdir -p /host
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144 hostroot /host || { echo "kernel-lane: 9p mount failed"; poweroff -f; }
KDIR=$(cat /kdir)
ln -s "/host$KDIR/lib/modules" /lib/modules
for m in overlay veth macvlan ipvlan 8021q dummy bridge vrf; do modprobe "$m" || echo "kernel-lane: modprobe $m failed"; done
mount -t tmpfs tmp /host/tmp
# The repo gets a throwaway writable layer (vite/vitest write temp and cache files next to each project).
REPO=$(cat /repo)
mkdir -p /ovl && mount -t tmpfs ovl /ovl && mkdir -p /ovl/upper /ovl/work
mount -t overlay overlay -o "lowerdir=/host$REPO,upperdir=/ovl/upper,workdir=/ovl/work" "/host$REPO" || echo "kernel-lane: overlay on $REPO failed"
mount -t tmpfs run /host/run
mount --bind /proc /host/proc
mount --bind /sys /host/sys
mount --bind /dev /host/dev
chroot /host /bin/sh "$(cat /guest-tests)" "$(cat /projects)" "$(cat /filter 2>/dev/null)" "$(cat /files 2>/dev/null)" "$(cat /runtime)"
echo "KERNEL-LANE-EXIT=$?"
sync
poweroff -f
