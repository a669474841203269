/**
 * The `@azure/functions-core` module that the Functions Node worker normally injects.
 *
 * The app's own `@azure/functions` (and `durable-functions`) call `setProgrammingModel` and
 * `registerFunction` through it; we capture every registration with its real binding metadata, then
 * invoke handlers exactly as the worker does (getInvocationModel → getArguments → hooks →
 * invokeFunction → getResponse), so the app runs here unchanged. The library calls
 * `setProgrammingModel` lazily on the first `app.*` call, and runs in "test mode" (no registrations)
 * when this module cannot be required; the app and `durable-functions` must resolve the same
 * `@azure/functions`, or a second programming model would break `instanceof HttpResponse`.
 */
import Module from 'node:module';
import { randomUUID } from 'node:crypto';

/** Shape of the typed data the worker exchanges with the library (subset we use). */
export interface RpcTypedData {
  string?: string | null;
  json?: string | null;
  bytes?: Uint8Array | null;
  http?: RpcHttpData | null;
  int?: number | null;
  double?: number | null;
}

export interface RpcHttpData {
  method?: string;
  url?: string;
  headers?: Record<string, string>;
  query?: Record<string, string>;
  params?: Record<string, string>;
  body?: RpcTypedData | null;
  statusCode?: string;
  cookies?: unknown[];
  enableContentNegotiation?: boolean;
  identities?: unknown[];
}

export interface BindingInfo {
  type: string;
  direction: 'in' | 'out' | 'inout';
  name?: string;
  [key: string]: unknown;
}

export interface FunctionMetadata {
  name: string;
  bindings: Record<string, BindingInfo>;
  retryOptions?: unknown;
}

export type FunctionCallback = (...args: unknown[]) => unknown;

export interface RegisteredFunction {
  metadata: FunctionMetadata;
  callback: FunctionCallback;
  /** Name of the trigger binding and its metadata. */
  triggerName: string;
  trigger: BindingInfo;
}

interface InvocationModel {
  getArguments(): Promise<{ context: unknown; inputs: unknown[] }>;
  invokeFunction(context: unknown, inputs: unknown[], handler: FunctionCallback): Promise<unknown>;
  getResponse(
    context: unknown,
    result: unknown,
  ): Promise<{ returnValue?: RpcTypedData | null; outputData?: { name: string; data: RpcTypedData }[] }>;
}

interface ProgrammingModel {
  name: string;
  version: string;
  getInvocationModel(coreCtx: unknown): InvocationModel;
  getCapabilities(caps: Record<string, string>): Promise<Record<string, string>>;
}

type HookName = 'preInvocation' | 'postInvocation' | 'appStart' | 'appTerminate' | 'log';
type HookCallback = (context: Record<string, unknown>) => unknown;

export type LogLevel = 'trace' | 'debug' | 'information' | 'warning' | 'error' | 'critical' | 'none';
export type LogSink = (level: LogLevel, category: string, message: string, functionName?: string) => void;

class Disposable {
  constructor(private readonly onDispose: () => void) {}
  static from(...items: { dispose(): unknown }[]): Disposable {
    return new Disposable(() => {
      for (const i of items) i.dispose();
    });
  }
  dispose(): void {
    this.onDispose();
  }
}

const TRIGGER_SUFFIX = 'trigger';

/** Holds what the app registered; one per process. */
export class FunctionRegistry {
  readonly functions = new Map<string, RegisteredFunction>();
  private programmingModel: ProgrammingModel | undefined;
  private readonly hooks = new Map<HookName, Set<HookCallback>>();
  private started = false;

  constructor(private readonly log: LogSink) {}

  /** The object handed to `require('@azure/functions-core')`. */
  coreApi(): Record<string, unknown> {
    return {
      version: '3.10.1',
      get hostVersion() {
        return '4.1000.0-local-host';
      },
      setProgrammingModel: (pm: ProgrammingModel) => {
        this.programmingModel = pm;
      },
      getProgrammingModel: () => this.programmingModel,
      registerFunction: (metadata: FunctionMetadata, callback: FunctionCallback) =>
        this.register(metadata, callback),
      registerHook: (name: HookName, cb: HookCallback) => {
        let set = this.hooks.get(name);
        if (!set) {
          set = new Set();
          this.hooks.set(name, set);
        }
        set.add(cb);
        return new Disposable(() => set.delete(cb));
      },
      log: (level: LogLevel, category: string, message: string) => {
        this.log(level, category, message);
      },
      Disposable,
    };
  }

  private register(metadata: FunctionMetadata, callback: FunctionCallback): Disposable {
    if (this.started) throw new Error('A function cannot be registered after the app has started.');
    if (this.functions.has(metadata.name.toLowerCase())) {
      throw new Error(`A function with the name "${metadata.name}" has already been registered.`);
    }
    const entry = Object.entries(metadata.bindings).find(([, b]) =>
      b.type.toLowerCase().endsWith(TRIGGER_SUFFIX),
    );
    if (!entry) throw new Error(`Function "${metadata.name}" has no trigger binding.`);
    const [triggerName, trigger] = entry;
    this.functions.set(metadata.name.toLowerCase(), { metadata, callback, triggerName, trigger });
    return new Disposable(() => this.functions.delete(metadata.name.toLowerCase()));
  }

  byTrigger(type: string): RegisteredFunction[] {
    return [...this.functions.values()].filter((f) => f.trigger.type.toLowerCase() === type.toLowerCase());
  }

  get(name: string): RegisteredFunction | undefined {
    return this.functions.get(name.toLowerCase());
  }

  /** Locks registration and runs `appStart` hooks, as the worker does after loading the entry points. */
  async start(functionAppDirectory: string): Promise<void> {
    this.started = true;
    if (this.programmingModel) await this.programmingModel.getCapabilities({});
    await this.runHooks('appStart', { hookData: {}, appHookData: {}, functionAppDirectory });
  }

  async terminate(): Promise<void> {
    await this.runHooks('appTerminate', { hookData: {}, appHookData: {} });
  }

  private async runHooks(name: HookName, ctx: Record<string, unknown>): Promise<void> {
    for (const cb of this.hooks.get(name) ?? []) await cb(ctx);
  }

  /**
   * Invokes one function through the real programming model. `inputData` carries the trigger
   * (and any input bindings) as typed data keyed by binding name.
   */
  async invoke(
    fn: RegisteredFunction,
    inputData: { name: string; data: RpcTypedData | null | undefined }[],
    triggerMetadata: Record<string, RpcTypedData> = {},
  ): Promise<{
    returnValue: RpcTypedData | null | undefined;
    outputData: { name: string; data: RpcTypedData }[];
  }> {
    const pm = this.programmingModel;
    if (!pm) throw new Error('The app did not set a programming model (is @azure/functions loaded?).');
    const invocationId = randomUUID();
    const coreCtx: Record<string, unknown> = {
      invocationId,
      request: { invocationId, functionId: fn.metadata.name, inputData, triggerMetadata },
      metadata: fn.metadata,
      state: undefined,
      log: (level: LogLevel, category: string, message: string) => {
        this.log(level, category, message, fn.metadata.name);
      },
    };
    const model = pm.getInvocationModel(coreCtx);
    const { context, inputs } = await model.getArguments();
    const hookData: Record<string, unknown> = {};
    const appHookData: Record<string, unknown> = {};
    const pre = { invocationContext: context, inputs, functionCallback: fn.callback, hookData, appHookData };
    coreCtx.state = 'preInvocationHooks';
    await this.runHooks('preInvocation', pre);
    coreCtx.state = 'invocation';
    let result: unknown;
    let error: unknown;
    try {
      result = await model.invokeFunction(context, pre.inputs, pre.functionCallback);
    } catch (e) {
      error = e;
    }
    coreCtx.state = 'postInvocationHooks';
    const post: Record<string, unknown> = {
      invocationContext: context,
      inputs: pre.inputs,
      result,
      error,
      hookData,
      appHookData,
    };
    await this.runHooks('postInvocation', post);
    if (post.error !== undefined && post.error !== null) {
      throw post.error instanceof Error ? post.error : new Error(JSON.stringify(post.error));
    }
    const response = await model.getResponse(context, post.result);
    return { returnValue: response.returnValue, outputData: response.outputData ?? [] };
  }
}

let installed: FunctionRegistry | undefined;

/**
 * Makes `require('@azure/functions-core')` return the registry's core API, as the worker's
 * require hook does. Must run before the app (and its `@azure/functions`) is loaded.
 */
export function installCoreModule(registry: FunctionRegistry): void {
  if (installed) throw new Error('The @azure/functions-core module is already installed in this process.');
  installed = registry;
  const api = registry.coreApi();
  const mod = Module as unknown as { _load: (request: string, ...rest: unknown[]) => unknown };
  const original = mod._load.bind(Module);
  mod._load = (request: string, ...rest: unknown[]) =>
    request === '@azure/functions-core' ? api : original(request, ...rest);
}
