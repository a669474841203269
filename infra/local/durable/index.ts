/** The Durable engine: histories in Table Storage, replay, activities, timers, events, client API. */
export { DurableEngine, DurableApiError, type EngineOptions } from './engine';
export { DurableStore } from './store';
export { clientBindingData, createDurableApi, statusJson, type ClientBindingData } from './client-api';
export { EventType, RuntimeStatus, type HistoryEvent } from './history';
