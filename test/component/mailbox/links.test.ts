import { describe, expect, it } from 'vitest';
import { extractLinks } from '@zsa/local-host/mailbox';

describe('extractLinks', () => {
  it.each([
    {
      scenario: 'an anchor href with an encoded ampersand → decoded',
      html: '<a href="https://zsa.test/api/decisions/t1?x=1&amp;y=2">Review</a>',
      text: '',
      links: ['https://zsa.test/api/decisions/t1?x=1&y=2'],
    },
    {
      scenario: 'single-quoted, unquoted and area hrefs → all kept in order',
      html: '<p><a class=b href=\'https://a.test/1\'>1</a><A HREF=https://a.test/2>2</A><area href="http://a.test/3"></p>',
      text: '',
      links: ['https://a.test/1', 'https://a.test/2', 'http://a.test/3'],
    },
    {
      scenario: 'mailto, javascript and relative hrefs → ignored',
      html: '<a href="mailto:x@y.test">m</a><a href="javascript:alert(1)">j</a><a href="/relative">r</a>',
      text: '',
      links: [],
    },
    {
      scenario: 'hrefs in comments, scripts and styles or on non-anchor tags → ignored',
      html: '<!-- <a href="https://hidden.test/">x</a> --><script>"<a href=\'https://s.test/\'>"</script><link href="https://css.test/x.css">',
      text: '',
      links: [],
    },
    {
      scenario: 'a ">" inside a quoted attribute before href → still found',
      html: '<a title="a > b" href="https://q.test/">q</a>',
      text: '',
      links: ['https://q.test/'],
    },
    {
      scenario: 'bare URLs in text, with sentence punctuation and brackets → trimmed',
      html: null,
      text: 'Approve at https://t.test/a. Or (https://t.test/b), or [https://t.test/c] or https://w.test/Foo_(bar)!',
      links: ['https://t.test/a', 'https://t.test/b', 'https://t.test/c', 'https://w.test/Foo_(bar)'],
    },
    {
      scenario: 'the same link in HTML and text → once, HTML first',
      html: '<a href="https://d.test/x">x</a><a href="https://d.test/y">y</a>',
      text: 'https://d.test/y https://d.test/x https://d.test/z',
      links: ['https://d.test/x', 'https://d.test/y', 'https://d.test/z'],
    },
  ])('$scenario', ({ html, text, links }) => {
    // Act
    const extracted = extractLinks(html, text);

    // Assess
    expect(extracted).toEqual(links);
  });
});
