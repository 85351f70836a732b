package com.amazonaws.services.lambda.runtime;

/** A handler whose input and output the runtime (de)serializes as JSON. */
public interface RequestHandler<I, O> {
    O handleRequest(I input, Context context);
}
