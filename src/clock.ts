/** The current time, injected so that rules about time (expiry, throttling) can be tested. */
export type Clock = () => Date;

export const systemClock: Clock = () => new Date();
