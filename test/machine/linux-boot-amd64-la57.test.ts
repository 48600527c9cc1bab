import { linuxBootSuite } from './linux-boot.js';

// Debian's 64-bit kernel on a CPU with LA57, PCID, INVPCID and 1 GiB pages: 5-level paging and PCIDs driven by a real kernel
linuxBootSuite('cloud-amd64-la57');
