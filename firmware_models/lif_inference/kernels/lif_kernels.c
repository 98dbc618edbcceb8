/* LIF inference kernels (firmware_models/lif_inference/firmware.py), C99 float.
 *
 * Compiled for the Cortex-M4F and analysed by tools/calibrate_kernels.py; not run by s2sim.
 * Loop bounds are parameters so one kernel serves every PE slice.
 */

/* synapses: one received spike adds its synaptic row (compressed: weight + 16-bit post index)
 * into the next tick's input buffer (per synapse of the row). */
void event_add(int nnz, const float *restrict weight, const unsigned short *restrict post,
               float *restrict input)
{
    for (int k = 0; k < nnz; k++)
        input[post[k]] += weight[k];
}

/* neuron: v = alpha v + input; spike if v > threshold, reset; input buffer cleared (per neuron).
 * Returns the spike count; fired[] lists the neurons to send. */
int lif_neuron_update(int n, float *restrict v, float *restrict input, unsigned short *restrict fired,
                      float alpha, float threshold)
{
    int n_fired = 0;
    for (int j = 0; j < n; j++) {
        float vj = alpha * v[j] + input[j];
        input[j] = 0.0f;
        if (vj > threshold) {
            vj -= threshold;
            fired[n_fired++] = (unsigned short)j;
        }
        v[j] = vj;
    }
    return n_fired;
}
