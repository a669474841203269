/**
 * The local host's function registry, installed as the `@azure/functions-core` module before
 * anything loads `@azure/functions` (which otherwise falls back to test mode and registers
 * nothing). Import it first in a test file that also imports the app's handlers.
 */
import { FunctionRegistry, installCoreModule } from '@zsa/local-host/core';

export const registry = new FunctionRegistry(() => undefined);
installCoreModule(registry);
