/** The SMTP sink with its web page and JSON API. */
export { startMailbox, type Mailbox, type MailboxOptions } from './mailbox';
export { MailMessageSchema, isAddressedTo, type MailMessage } from './message';
export { extractLinks, linksInHtml, linksInText } from './links';
