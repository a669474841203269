import { z } from 'zod';

/**
 * The `continuationToken` query parameter of every paged list: the opaque token the previous page
 * answered. Bounded so a forged one cannot cost more than a failed check; each list verifies what it
 * holds (its own signature or storage token).
 */
export const ContinuationTokenQuery = z
  .string()
  .min(1)
  .max(4096)
  .optional()
  .meta({ description: 'The `continuationToken` of the previous page, for the next one.' });
