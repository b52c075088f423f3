/**
 * Saves text as a file through the browser's download (a Blob URL on an <a download>): the same in Electron
 * and in browser mode, and the renderer never needs file-system access.
 */

/** File names the backend proposes are still checked: no folders, no control characters, a sane length. */
export function safeFileName(name: string, fallback = 'identity.pem'): string {
  const trimmed = name.trim();
  if (!trimmed || trimmed.length > 200 || /[\\/\p{Cc}]/u.test(trimmed) || /^\.+$/.test(trimmed)) return fallback;
  return trimmed;
}

export function downloadText(fileName: string, text: string, doc: Document = document): void {
  const url = URL.createObjectURL(new Blob([text], { type: 'application/octet-stream' }));
  const a = doc.createElement('a');
  a.href = url;
  a.download = safeFileName(fileName);
  a.hidden = true;
  doc.body.append(a);
  a.click();
  a.remove();
  // The browser reads the Blob after click() returns; give it time before the URL goes away.
  setTimeout(() => URL.revokeObjectURL(url), 30_000);
}
