package com.amazonaws.services.lambda.runtime;

/** What a handler knows about its invocation and its function (aws-lambda-java-core's Context). */
public interface Context {
    String getAwsRequestId();

    String getLogGroupName();

    String getLogStreamName();

    String getFunctionName();

    String getFunctionVersion();

    String getInvokedFunctionArn();

    /** The Cognito identity of a mobile SDK caller, or null. */
    CognitoIdentity getIdentity();

    /** The client context of a mobile SDK caller, or null. */
    ClientContext getClientContext();

    int getRemainingTimeInMillis();

    int getMemoryLimitInMB();

    LambdaLogger getLogger();
}
