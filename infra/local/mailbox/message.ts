/**
 * The shape of one caught email, as tests and the mailbox page see it (`GET /dev/mailbox/messages`
 * answers an array of these). The same schema
 * validates lines read back from the data file, so a hand-edited or truncated file cannot smuggle a
 * malformed message into the page.
 */
import { z } from 'zod';

export const MailMessageSchema = z.object({
  id: z.string().min(1),
  /** Address of the first `From` mailbox, else the envelope sender. */
  from: z.string(),
  /** Addresses in the `To` header, in order (groups flattened). */
  to: z.array(z.string()),
  cc: z.array(z.string()),
  /** What the SMTP client actually said: `RCPT TO` includes Bcc recipients that no header shows. */
  envelope: z.object({ from: z.string(), to: z.array(z.string()) }),
  subject: z.string(),
  /** The text part; mailparser derives it from the HTML when the sender sent none. */
  text: z.string(),
  html: z.string().nullable(),
  /** Every http(s) link in the HTML anchors, then bare URLs in the text, deduplicated, in order. */
  links: z.array(z.string()),
  receivedAt: z.iso.datetime(),
  messageId: z.string().nullable(),
  /** A readable subset of the headers (lower-case names), for assertions and the page. */
  headers: z.record(z.string(), z.string()),
});

export type MailMessage = z.infer<typeof MailMessageSchema>;

/** True when `address` is among the message's To, Cc or envelope recipients (case-insensitive). */
export function isAddressedTo(message: MailMessage, address: string): boolean {
  const wanted = address.trim().toLowerCase();
  return [...message.to, ...message.cc, ...message.envelope.to].some((a) => a.toLowerCase() === wanted);
}
