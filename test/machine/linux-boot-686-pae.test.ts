import { linuxBootSuite } from './linux-boot.js';

linuxBootSuite('686-pae');
