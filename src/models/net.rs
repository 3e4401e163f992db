//! One ONNX network with a square RGB input: loaded from bytes, checked against its recipe,
//! run on one NCHW tensor. The only place that knows which runtime runs the models.

use std::sync::Arc;

use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid;

use crate::engine::recipe::Recipe;

pub struct Net {
    model: Arc<TypedRunnableModel>,
    side: usize,
    output: usize,
}

/// Why a network cannot be used: not a model at all, or one that does not fit the recipe.
pub enum NetError {
    NotOnnx(String),
    Shape(String),
}

impl Net {
    /// Parses `bytes`, checks the shapes the model declares against `recipe` (input
    /// 1x3xSxS; the chosen output one SxS map), and optimizes it for that input.
    pub fn load(bytes: &[u8], recipe: &Recipe) -> Result<Net, NetError> {
        let side = recipe.side as usize;
        let model = tract_onnx::onnx()
            .model_for_read(&mut std::io::Cursor::new(bytes))
            .map_err(|e| NetError::NotOnnx(format!("{e:#}")))?;
        let inputs = model.inputs.len();
        if inputs != 1 {
            return Err(NetError::Shape(format!(
                "it takes {inputs} inputs; maskflow feeds one image"
            )));
        }
        let outputs = model.outputs.len();
        if recipe.output >= outputs {
            return Err(NetError::Shape(format!(
                "`output: {}` asks for output #{}, and it has {outputs}",
                recipe.output, recipe.output
            )));
        }
        let declared = model
            .input_fact(0)
            .map_err(|e| NetError::NotOnnx(format!("{e:#}")))?;
        let dims: Vec<Option<usize>> = declared
            .shape
            .dims()
            .map(|d| d.concretize().and_then(|d| d.as_i64()).and_then(|d| usize::try_from(d).ok()))
            .collect();
        let wanted = [1, 3, side, side];
        let fits = dims.is_empty()
            || (dims.len() == 4 && dims.iter().zip(wanted).all(|(d, w)| d.is_none_or(|d| d == w)));
        if !fits {
            let shown: Vec<String> = dims
                .iter()
                .map(|d| d.map_or("?".to_owned(), |d| d.to_string()))
                .collect();
            return Err(NetError::Shape(format!(
                "its input is {}, and the recipe feeds 1x3x{side}x{side} (`input_size: {side}`)",
                shown.join("x")
            )));
        }
        let model = model
            .with_input_fact(0, f32::fact([1, 3, side, side]).into())
            .and_then(|m| m.into_optimized())
            .map_err(|e| NetError::Shape(format!("it cannot run on 1x3x{side}x{side}: {e:#}")))?;
        let fact = model
            .output_fact(recipe.output)
            .map_err(|e| NetError::Shape(format!("{e:#}")))?;
        if let Some(shape) = fact.shape.as_concrete() {
            let elements: usize = shape.iter().product();
            if elements != side * side {
                let shown: Vec<String> = shape.iter().map(usize::to_string).collect();
                return Err(NetError::Shape(format!(
                    "output #{} is {}, not one {side}x{side} map",
                    recipe.output,
                    shown.join("x")
                )));
            }
        }
        let model = model
            .into_runnable()
            .map_err(|e| NetError::Shape(format!("{e:#}")))?;
        Ok(Net {
            model,
            side,
            output: recipe.output,
        })
    }

    /// Runs the network on one 1x3xSxS input; returns the chosen output's S*S values.
    pub fn run(&self, input: &[f32]) -> Result<Vec<f32>, String> {
        let side = self.side;
        let tensor =
            Tensor::from_shape(&[1, 3, side, side], input).map_err(|e| format!("{e:#}"))?;
        let outputs = self
            .model
            .run(tvec!(tensor.into_tvalue()))
            .map_err(|e| format!("{e:#}"))?;
        let output = outputs
            .get(self.output)
            .ok_or_else(|| format!("the model gave no output #{}", self.output))?;
        let values = output
            .to_plain_array_view::<f32>()
            .map_err(|e| format!("{e:#}"))?;
        if values.len() != side * side {
            return Err(format!(
                "output #{} has {} values, not {side}x{side}",
                self.output,
                values.len()
            ));
        }
        Ok(values.iter().copied().collect())
    }
}
