/**
 * The mailbox's messages in memory, optionally mirrored to a JSON-lines file so that a restarted local
 * host still shows the approval emails sent before it stopped.
 *
 * The file is append-only while running (one line per message, an empty file after a clear) and is
 * compacted to the kept messages at start-up or when it holds twice as many lines as are kept. Writes
 * run one at a time, in order, so the file never interleaves an append with a rewrite.
 */
import { appendFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { MailMessageSchema, type MailMessage } from './message';

export interface MessageStore {
  list(): readonly MailMessage[];
  /** Resolves once the message is on disk (at once without a data file). */
  add(message: MailMessage): Promise<void>;
  clear(): Promise<void>;
  /** Resolves when every write queued so far has finished. */
  flushed(): Promise<void>;
}

export async function openMessageStore(options: {
  dataFile: string | undefined;
  maxMessages: number;
  log: (line: string) => void;
}): Promise<MessageStore> {
  const { dataFile, maxMessages, log } = options;
  let messages: MailMessage[] = [];
  let linesInFile = 0;
  let writes: Promise<void> = Promise.resolve();

  // A failed write must not stop the mailbox (it is a development tool): log it and keep serving.
  const enqueue = (what: string, write: (file: string) => Promise<void>): Promise<void> => {
    if (dataFile === undefined) return Promise.resolve();
    writes = writes
      .then(() => write(dataFile))
      .catch((error: unknown) => {
        log(`mailbox: could not ${what} ${dataFile}: ${String(error)}`);
      });
    return writes;
  };

  const rewrite = (): Promise<void> => {
    const snapshot = [...messages];
    linesInFile = snapshot.length;
    return enqueue('rewrite', async (file) => {
      const temporary = `${file}.${process.pid}.tmp`;
      await writeFile(temporary, snapshot.map((m) => `${JSON.stringify(m)}\n`).join(''));
      await rename(temporary, file);
    });
  };

  if (dataFile !== undefined) {
    await mkdir(dirname(dataFile), { recursive: true });
    const loaded = await readMessages(dataFile, log);
    messages = loaded.messages.slice(-maxMessages);
    linesInFile = loaded.lines;
    if (linesInFile !== messages.length) await rewrite();
  }

  return {
    list: () => messages,
    add: (message) => {
      // Replaced rather than mutated, so a list handed out earlier never changes under its reader.
      messages = [...messages, message].slice(-maxMessages);
      if (linesInFile + 1 > 2 * maxMessages) return rewrite();
      linesInFile += 1;
      return enqueue('append to', (file) => appendFile(file, `${JSON.stringify(message)}\n`));
    },
    clear: () => {
      messages = [];
      linesInFile = 0;
      return enqueue('truncate', (file) => writeFile(file, ''));
    },
    flushed: () => writes,
  };
}

async function readMessages(
  file: string,
  log: (line: string) => void,
): Promise<{ messages: MailMessage[]; lines: number }> {
  let content: string;
  try {
    content = await readFile(file, 'utf8');
  } catch (error: unknown) {
    if (isErrorWithCode(error, 'ENOENT')) return { messages: [], lines: 0 };
    throw error;
  }
  const lines = content.split('\n').filter((line) => line.trim() !== '');
  const messages: MailMessage[] = [];
  lines.forEach((line, index) => {
    const parsed = MailMessageSchema.safeParse(parseJson(line));
    if (parsed.success) messages.push(parsed.data);
    // A torn last line (the process died mid-append) or a hand edit: skip it, keep the rest.
    else log(`mailbox: skipped unreadable line ${index + 1} of ${file}`);
  });
  return { messages, lines: lines.length };
}

function parseJson(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

function isErrorWithCode(error: unknown, code: string): boolean {
  return error instanceof Error && 'code' in error && error.code === code;
}
