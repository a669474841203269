// Testing Library unmounts what a test rendered after each test, so tests never see each other's DOM.
import { cleanup, configure } from '@testing-library/react';
import { afterEach } from 'vitest';

afterEach(() => cleanup());

// findBy*/waitFor give up after 1 s by default: a click that calls the (loopback) API and renders
// the answer can take longer than that on a 2-core machine running the rest of the suite.
configure({ asyncUtilTimeout: 5_000 });

// jsdom has no ResizeObserver; Fluent's MessageBar observes its own size to reflow its actions. An
// observer that never reports keeps the bar in its default layout, as a wide window would.
if (typeof globalThis.ResizeObserver === 'undefined') {
  globalThis.ResizeObserver = class {
    observe(): void {}
    unobserve(): void {}
    disconnect(): void {}
  };
}
