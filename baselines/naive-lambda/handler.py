# BASELINE — NOT twinserve. The naive Lambda handler from the seed blog post, kept only so
# `make bench-peers --lambda` can measure twinserve's cold start against it.
# Changed from the blog only so it runs on current libraries: `import joblib` (sklearn.externals
# .joblib was removed in scikit-learn 0.23) and the model path from MODEL_FILE (default as in the
# blog: model.pkl next to the handler). Everything else is the blog's code.
# Lambda handler setting: handler.lambda_handler
# Lambda function to handle AI model inference
import json
import os

import numpy as np
import joblib

# Load the pre-trained model
model = joblib.load(os.environ.get("MODEL_FILE", "model.pkl"))

def lambda_handler(event, context):
    # Parse the input data
    input_data = json.loads(event['body'])
    input_array = np.array(input_data['features']).reshape(1, -1)

    # Make predictions
    prediction = model.predict(input_array)

    # Return the result
    return {
        'statusCode': 200,
        'body': json.dumps({'prediction': prediction.tolist()})
    }
