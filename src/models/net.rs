//! One ONNX network with a square RGB input, loaded through the runtime module, checked
//! against its recipe, run on one NCHW tensor.

use crate::engine::InferenceError;
use crate::engine::recipe::Recipe;
use crate::engine::runtime::{self, Input, RuntimeError, Session};

pub struct Net {
    session: Box<dyn Session>,
    side: usize,
    output: usize,
}

/// Why a network cannot be used: not a model at all, or one that does not fit the recipe.
#[derive(Debug)]
pub enum NetError {
    NotOnnx(String),
    Shape(String),
}

impl Net {
    /// Loads `bytes`, then runs the model once on a blank 1x3xSxS input: a model that cannot
    /// take that input, or whose chosen output is not one SxS map, fails here, once, rather
    /// than on every image.
    pub fn load(bytes: Vec<u8>, recipe: &Recipe) -> Result<Net, NetError> {
        let side = recipe.side as usize;
        // The selected runtime, as the lockfile's engine identity records.
        let session = runtime::load(runtime::selected(), bytes).map_err(|e| match e {
            RuntimeError::Load { message, .. } => NetError::NotOnnx(message),
            other => NetError::NotOnnx(other.to_string()),
        })?;
        let net = Net {
            session,
            side,
            output: recipe.output,
        };
        let blank = vec![0f32; 3 * side * side];
        net.run(&blank).map_err(|e| match e {
            InferenceError::Runtime(RuntimeError::NoSuchOutput { index, count }) => {
                NetError::Shape(format!(
                    "`output: {index}` asks for output #{index}, and it has {count}"
                ))
            }
            InferenceError::Runtime(e) => NetError::Shape(format!(
                "it cannot run on a 1x3x{side}x{side} input (`input_size: {side}`): {e}"
            )),
            shape @ InferenceError::OutputShape { .. } => NetError::Shape(shape.to_string()),
        })?;
        Ok(net)
    }

    /// Runs the network on one 1x3xSxS input; returns the chosen output's S*S values.
    pub fn run(&self, input: &[f32]) -> Result<Vec<f32>, InferenceError> {
        let side = self.side;
        let output = self.session.run(
            Input {
                shape: &[1, 3, side, side],
                data: input,
            },
            self.output,
        )?;
        if output.data.len() != side * side {
            return Err(InferenceError::OutputShape {
                output: self.output,
                shape: output.shape,
                side,
            });
        }
        Ok(output.data)
    }
}
