package com.amazonaws.services.lambda.runtime;

/** The Amazon Cognito identity a mobile SDK caller invoked with. */
public interface CognitoIdentity {
    String getIdentityId();

    String getIdentityPoolId();
}
