import '@testing-library/jest-dom/vitest';

// jsdom's Blob has no text() (every browser has); fill it from jsdom's own FileReader so the renderer's
// File.text() runs unchanged.
if (typeof Blob.prototype.text !== 'function') {
  Blob.prototype.text = function text(this: Blob): Promise<string> {
    return new Promise((resolve, reject) => {
      const reader = new FileReader();
      reader.onload = () => resolve(String(reader.result));
      reader.onerror = () => reject(reader.error ?? new Error('read failed'));
      reader.readAsText(this);
    });
  };
}
