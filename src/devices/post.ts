/**
 * Port 0x80, the POST diagnostic port: a BIOS writes its progress codes
 * there for a POST card to show, and operating systems write to it as a
 * harmless I/O delay (Linux's io_delay, the "p" in outb_p). Claiming it
 * keeps those writes out of the unclaimed-port trace. Reads return the last
 * value written, as on POST cards and chipsets that latch the port (an
 * empty ISA port would read 0xff).
 */
import createDebug from 'debug';
import type { IoBus } from '../io/bus.js';

const log = createDebug('vmmu:post');

export const POST_PORT = 0x80;

export interface PostPortState {
  value: number;
}

export class PostPort {
  private value = 0;

  constructor(bus: IoBus, readonly port = POST_PORT) {
    bus.registerPorts(port, 1, {
      in8: () => this.value,
      out8: (_port, v) => {
        // io_delay writes arrive by the thousand: log only changes of the code
        if (v !== this.value && log.enabled) log('POST code 0x%s', v.toString(16));
        this.value = v;
      },
    }, 'post');
  }

  /** The last value written. */
  code(): number {
    return this.value;
  }

  reset(): void {
    this.value = 0;
  }

  save(): PostPortState {
    return { value: this.value };
  }

  restore(state: object): void {
    this.value = (state as PostPortState).value & 0xff;
  }
}
