import { linuxBootSuite } from './linux-boot.js';

// Debian's 64-bit kernel on a CPU with LA57, PCID, INVPCID, 1 GiB pages, SMEP, SMAP, XSAVE and PKU: 5-level paging,
// PCIDs, SMEP, SMAP and protection keys driven by a real kernel
linuxBootSuite('cloud-amd64-la57');
