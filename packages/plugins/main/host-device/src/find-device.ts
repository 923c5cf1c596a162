import { readdirSync } from 'node:fs';
import { join, normalize } from 'node:path';
import { invalidConfig } from '@tscni/cni/errors';
import { getLink, listLinks } from '@tscni/net/host/link';
import { PCI_ADDRESS as PCI_RE } from './dpdk';

/** How the config names the host device; `deviceID` (runtimeConfig) overrides the rest. */
export interface DeviceSelector {
  device?: string;
  hwaddr?: string;
  kernelpath?: string;
  pciBusID?: string;
  deviceID?: string;
}

const AUX_RE = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+$/;

/** The name of the selected device in the plugin's (node) netns; error 7 naming the field when it is not there. */
export async function findHostDevice(sel: DeviceSelector, sysfs = '/sys'): Promise<string> {
  if (sel.deviceID) {
    if (PCI_RE.test(sel.deviceID))
      return netDirDevice(join(sysfs, 'bus/pci/devices', sel.deviceID), 'runtimeConfig.deviceID');
    if (AUX_RE.test(sel.deviceID))
      return netDirDevice(join(sysfs, 'bus/auxiliary/devices', sel.deviceID), 'runtimeConfig.deviceID');
    throw invalidConfig(
      'runtimeConfig.deviceID',
      `${JSON.stringify(sel.deviceID)} is neither a PCI address nor an auxiliary device name`,
    );
  }
  if (sel.device) {
    if (!(await getLink(sel.device))) throw invalidConfig('device', `link ${JSON.stringify(sel.device)} not found`);
    return sel.device;
  }
  if (sel.hwaddr) {
    const want = sel.hwaddr.toLowerCase();
    const link = (await listLinks()).find((l) => l.address?.toLowerCase() === want);
    if (!link) throw invalidConfig('hwaddr', `no link has MAC ${sel.hwaddr}`);
    return link.ifname;
  }
  if (sel.kernelpath) {
    const path = normalize(sel.kernelpath);
    if (!path.startsWith('/sys/') || path !== sel.kernelpath.replace(/\/+$/, ''))
      throw invalidConfig('kernelpath', `${JSON.stringify(sel.kernelpath)} is not a normalized path under /sys`);
    return netDirDevice(path, 'kernelpath');
  }
  if (sel.pciBusID) {
    if (!PCI_RE.test(sel.pciBusID))
      throw invalidConfig('pciBusID', `${JSON.stringify(sel.pciBusID)} is not a PCI address (dddd:bb:dd.f)`);
    return netDirDevice(join(sysfs, 'bus/pci/devices', sel.pciBusID), 'pciBusID');
  }
  throw invalidConfig('device', 'specify either "device", "hwaddr", "kernelpath" or "pciBusID"');
}

/** A device directory in sysfs lists its network interface under `net/`. */
function netDirDevice(devicePath: string, field: string): string {
  let names: string[];
  try {
    names = readdirSync(join(devicePath, 'net'));
  } catch {
    throw invalidConfig(
      field,
      `${devicePath} has no network interface (missing, or bound to a userspace driver such as DPDK)`,
    );
  }
  if (names.length === 0) throw invalidConfig(field, `${devicePath} has no network interface`);
  return names.sort()[0];
}
