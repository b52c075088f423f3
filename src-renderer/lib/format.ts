/** How dates, durations and sizes read in the UI (one place, so every view says them the same way). */

/** "12 March 2027" in the user's locale; an unreadable date is shown as given rather than hidden. */
export function formatDate(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleDateString(undefined, { year: 'numeric', month: 'long', day: 'numeric' });
}

export function daysLeftText(days: number): string {
  if (days < 0) return days === -1 ? 'expired 1 day ago' : `expired ${-days} days ago`;
  if (days === 0) return 'expires today';
  return days === 1 ? '1 day left' : `${days} days left`;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

export function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}
