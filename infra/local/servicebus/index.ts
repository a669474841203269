/** The Service Bus–compatible AMQP endpoint, its message store, and the queue triggers it drives. */
export { startServiceBus, type ServiceBusHandle, type ServiceBusOptions } from './server';
export { MessageStore, type Settlement, type StoreHooks } from './store';
export { startServiceBusTriggers, serviceBusEntities } from './triggers';
export { measureRoundTrip, type RoundTrip } from './round-trip';
