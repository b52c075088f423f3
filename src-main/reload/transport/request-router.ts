/** One handler per method for incoming requests; anything unhandled is answered Error_Not_Found. */
import { ErrorCode, type Body, type Method } from '../wire';
import { ErrorAnswer, type IncomingRequest, type MessageTransport } from './message-transport';

export type MethodHandler = (request: IncomingRequest) => Promise<Body> | Body;

export class RequestRouter {
  private readonly handlers = new Map<Method, MethodHandler>();

  constructor(transport: MessageTransport) {
    transport.handle((request) => this.dispatch(request));
  }

  on(method: Method, handler: MethodHandler): void {
    this.handlers.set(method, handler);
  }

  private dispatch(request: IncomingRequest): Promise<Body> | Body {
    const handler = this.handlers.get(request.body.method);
    if (!handler) throw new ErrorAnswer(ErrorCode.Not_Found, `${request.body.method} is not served here`);
    return handler(request);
  }
}
