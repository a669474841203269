// Testing Library unmounts what a test rendered after each test, so tests never see each other's DOM.
import { cleanup } from '@testing-library/react';
import { afterEach } from 'vitest';

afterEach(() => cleanup());

// jsdom has no ResizeObserver; Fluent's MessageBar observes its own size to reflow its actions. An
// observer that never reports keeps the bar in its default layout, as a wide window would.
if (typeof globalThis.ResizeObserver === 'undefined') {
  globalThis.ResizeObserver = class {
    observe(): void {}
    unobserve(): void {}
    disconnect(): void {}
  };
}
