const formatters = new Map<string, Intl.DateTimeFormat>();

/**
 * The offset from UTC of a time zone at an instant, in ms (positive east of Greenwich), to the
 * second: the zone's wall-clock time there, written as if it were UTC, minus the instant.
 */
export function timeZoneOffset(timeZone: string, instant: number): number {
  let formatter = formatters.get(timeZone);
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, formatter);
  }
  const whole = Math.floor(instant / 1000) * 1000;
  const parts = Object.fromEntries(formatter.formatToParts(whole).map((part) => [part.type, part.value]));
  const wall = Date.UTC(
    Number(parts.year),
    Number(parts.month) - 1,
    Number(parts.day),
    Number(parts.hour),
    Number(parts.minute),
    Number(parts.second),
  );
  return wall - whole;
}
