# BASELINE — NOT twinserve. The naive template from the seed blog post, kept only so
# `make bench-peers` can measure twinserve against what a user would copy.
# Changed from the blog only so it runs on current libraries: `import joblib` (sklearn.externals
# .joblib was removed in scikit-learn 0.23) and the model path from MODEL_FILE (default as in
# the blog: model.pkl in the working directory). Everything else is the blog's code.
# Serve it as the benchmark does: gunicorn -w 2 -b 127.0.0.1:PORT app:app  (2 sync workers).
import os

from flask import Flask, request, jsonify
import numpy as np
import joblib

app = Flask(__name__)

# Load the pre-trained model
model = joblib.load(os.environ.get("MODEL_FILE", "model.pkl"))

@app.route('/predict', methods=['POST'])
def predict():
    # Parse the input data
    input_data = request.json
    input_array = np.array(input_data['features']).reshape(1, -1)

    # Make predictions
    prediction = model.predict(input_array)

    # Return the result
    return jsonify({'prediction': prediction.tolist()})

if __name__ == '__main__':
    app.run(host='0.0.0.0', port=5000)
