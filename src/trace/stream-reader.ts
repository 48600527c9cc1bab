/**
 * A replay's side of a parse-once stream (stream.ts), apart from the
 * broker so that a replay thread loads neither the broker nor the
 * importers.
 */
import type { MessagePort } from 'node:worker_threads';
import { ImportError } from './input.js';
import type { ImportStats } from './importers.js';
import type { StreamChunk } from './packed.js';
import type { ReleaseMessage, StreamMessage } from './stream.js';

/**
 * A replay's side of a stream: chunk(i) resolves with chunk i, or null past
 * the end; it rejects with the parse's error (an ImportError as the parser
 * threw it) once every chunk before the error has been read. release(below)
 * tells the broker the replay needs no chunk below `below`.
 */
export class StreamReader {
  private readonly have = new Map<number, StreamChunk>();
  private endAt = -1;
  private failure: Error | null = null;
  private wake: (() => void) | null = null;
  private released = 0;
  /** the import's statistics, once the parse has ended */
  stats: ImportStats | null = null;

  /**
   * `yieldEach`: chunk() lets this thread's event loop run before it hands
   * out a chunk (a replay in the broker's own thread: the broker then
   * serves the parse thread and the other replays between its chunks).
   */
  constructor(private readonly port: MessagePort, private readonly yieldEach = false) {
    port.on('message', (m: StreamMessage) => {
      if (m.type === 'chunk') this.have.set(m.chunk.index, m.chunk);
      else if (m.type === 'end') {
        this.endAt = m.chunks;
        this.stats = m.stats;
      } else {
        const e = m.name === 'ImportError' ? new ImportError(m.message) : new Error(m.message);
        if (m.name !== 'ImportError') e.name = m.name;
        this.failure = e;
      }
      const w = this.wake;
      this.wake = null;
      if (w !== null) w();
    });
  }

  async chunk(i: number): Promise<StreamChunk | null> {
    if (this.yieldEach) await new Promise<void>((r) => setImmediate(r));
    for (;;) {
      const c = this.have.get(i);
      if (c !== undefined) return c;
      if (this.endAt >= 0 && i >= this.endAt) return null;
      if (this.failure !== null) throw this.failure;
      await new Promise<void>((r) => { this.wake = r; });
    }
  }

  release(below: number): void {
    if (below <= this.released) return;
    for (let i = this.released; i < below; i++) this.have.delete(i);
    this.released = below;
    this.port.postMessage({ type: 'release', below } satisfies ReleaseMessage);
  }

  close(): void {
    this.port.close();
  }
}
