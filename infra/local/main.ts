#!/usr/bin/env node
/** `local-host`: runs the function app in the current folder with the host's defaults only. */
import { runCli } from './cli';

void runCli({ startedAt: Date.now() });
