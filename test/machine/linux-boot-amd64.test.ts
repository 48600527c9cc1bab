import { linuxBootSuite } from './linux-boot.js';

// Debian's 64-bit kernel (npm run guests fetches it into the cache's x86_64/: docs/guests.md)
linuxBootSuite('cloud-amd64');
