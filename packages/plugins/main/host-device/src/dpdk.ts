import { readlinkSync } from 'node:fs';
import { basename, join } from 'node:path';

/** Kernel drivers that hand a PCI NIC to a userspace data plane (DPDK): the device has no netdev to move. */
const USERSPACE_DRIVERS = new Set(['vfio-pci', 'uio_pci_generic', 'igb_uio']);

export const PCI_ADDRESS = /^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$/;

/**
 * The userspace driver a PCI device is bound to (`<sysfs>/bus/pci/devices/<addr>/driver` → …/drivers/<name>),
 * or undefined for a kernel driver, no driver, or no such device (those take the netdev path, which reports
 * what is missing). `sysfs` is the sysfs mount point; only the PCI address (validated) is joined to it.
 */
export function userspaceDriver(pciAddress: string | undefined, sysfs: string): string | undefined {
  if (!pciAddress || !PCI_ADDRESS.test(pciAddress)) return undefined;
  let target: string;
  try {
    target = readlinkSync(join(sysfs, 'bus/pci/devices', pciAddress, 'driver'));
  } catch {
    return undefined;
  }
  const driver = basename(target);
  return USERSPACE_DRIVERS.has(driver) ? driver : undefined;
}
