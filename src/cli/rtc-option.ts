/**
 * `vmmu boot --rtc`: the date the guest's CMOS clock (the RTC) starts from.
 *
 * A batch run starts it from a fixed date (RTC_DEFAULT_START), so that two
 * runs of the same guest, in any translation mode, execute the same
 * instructions and print the same kernel timestamps. An interactive console
 * is not reproducible anyway (key timing decides when interrupts arrive) and
 * starts it from the host's clock, as a person at the console expects.
 * `--rtc now` or `--rtc YYYY-MM-DDTHH:MM:SS` (UTC) chooses either way.
 */
import { RTC_DEFAULT_START } from '../devices/rtc.js';

const FORMAT = 'now or a UTC date and time YYYY-MM-DDTHH:MM:SS (e.g. 2026-01-01T00:00:00)';

/**
 * The RTC's start date for `--rtc value` (undefined when the option is not
 * given). Throws RangeError naming --rtc for anything else than `now` or a
 * real date and time.
 */
export function rtcStartDate(value: string | undefined, interactive: boolean, now: () => Date = () => new Date()): Date {
  if (value === undefined) return interactive ? now() : new Date(RTC_DEFAULT_START);
  if (value === 'now') return now();
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z?$/.exec(value);
  if (!m) throw new RangeError(`--rtc: '${value}' is not ${FORMAT}`);
  const [year, month, day, hours, minutes, seconds] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  // setUTCFullYear, not Date.UTC: the latter reads years 0..99 as 1900..1999.
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hours, minutes, seconds, 0);
  // Date rolls out-of-range fields over (February 30 becomes March 2): refuse them instead.
  if (d.getUTCFullYear() !== year || d.getUTCMonth() !== month - 1 || d.getUTCDate() !== day
    || d.getUTCHours() !== hours || d.getUTCMinutes() !== minutes || d.getUTCSeconds() !== seconds) {
    throw new RangeError(`--rtc: '${value}' is not a date and time that exists (month 01-12, a day the month has, hours 00-23, minutes and seconds 00-59)`);
  }
  return d;
}
