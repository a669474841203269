import { z } from 'zod';

/**
 * The body of an operation that takes no input: nothing, or `{}`. Anything else is refused, as a
 * mistake worth reporting (a caller who sends fields expects them to mean something).
 */
export const EmptyBody = z
  .strictObject({})
  .meta({ id: 'EmptyBody', description: 'No input: send no body, or `{}`.' });
