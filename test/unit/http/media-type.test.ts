/** What counts as a JSON body: the media type's essence, parameters aside (a CSRF boundary). */
import { describe, expect, it } from 'vitest';
import { isJsonMediaType } from '#shared/http/handler';

describe('a JSON media type', () => {
  it.each([
    ['application/json', true],
    ['application/json; charset=utf-8', true],
    ['Application/JSON', true],
    ['application/merge-patch+json', true],
    [' application/json ', true],
    ['text/plain', false],
    ['text/plain; x=+json', false],
    ['text/plain;charset=application/json', false],
    ['application/jsonp', false],
    ['application/x-www-form-urlencoded', false],
    ['multipart/form-data; boundary=+json', false],
    ['', false],
    [null, false],
  ])('%j → %s', (header, expected) => {
    // Act / Assess
    expect(isJsonMediaType(header)).toBe(expected);
  });
});
