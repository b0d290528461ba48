#! /usr/bin/env python3
# An NCSDK 1.x app written the way NCSDK's examples are: it classifies
# images on every Neural Compute Stick it finds, one thread per stick.
# It imports nothing of this project, only mvnc (and numpy), so it runs
# unchanged on real sticks (NCSDK installed) or on the emulated ones.
#
# Usage: classify_threads.py GRAPH_FILE IMAGES.npy
#   IMAGES.npy: N preprocessed images, float32 (N, height, width, channels)
# Prints, per image: "image <i> on <device>: top1 <index> <probability>
# output <every value>", then the thermal state and the time per device.

from mvnc import mvncapi as mvnc
import numpy
import sys
import threading

# NCSDK's examples turn the API's own messages on
mvnc.SetGlobalOption(mvnc.GlobalOption.LOG_LEVEL, 2)

# get a list of names for all the devices plugged into the system
devices = mvnc.EnumerateDevices()
if len(devices) == 0:
    print('No devices found')
    quit()

graph_file_name, images_file_name = sys.argv[1], sys.argv[2]

# load the graph file into memory, as NCSDK's examples do
with open(graph_file_name, mode='rb') as f:
    blob = f.read()
images = numpy.load(images_file_name)

lines = {}
device_reports = []
failures = []
print_lock = threading.Lock()


def run_on_device(index, name):
    device = mvnc.Device(name)
    device.OpenDevice()
    graph = device.AllocateGraph(blob)
    graph.SetGraphOption(mvnc.GraphOption.ITERATIONS, 1)
    graph.SetGraphOption(mvnc.GraphOption.DONT_BLOCK, 0)
    total_ms = 0.0
    # this device takes every len(devices)-th image
    for i in range(index, len(images), len(devices)):
        img = images[i]
        graph.LoadTensor(img.astype(numpy.float16), 'user object')
        output, userobj = graph.GetResult()
        if userobj != 'user object':
            raise RuntimeError('wrong user object: ' + repr(userobj))
        inference_time = graph.GetGraphOption(mvnc.GraphOption.TIME_TAKEN)
        total_ms += float(numpy.sum(inference_time))
        top = int(numpy.argmax(output))
        values = ' '.join(repr(float(v)) for v in output)
        with print_lock:
            lines[i] = ('image %d on %s: top1 %d %.4f output %s'
                        % (i, name, top, float(output[top]), values))
    level = device.GetDeviceOption(mvnc.DeviceOption.THERMAL_THROTTLING_LEVEL)
    temps = device.GetDeviceOption(mvnc.DeviceOption.THERMAL_STATS)
    with print_lock:
        device_reports.append('%s: %.3f ms on the stick, throttling level %d,'
                              ' %d temperature readings'
                              % (name, total_ms, level, len(temps)))
    graph.DeallocateGraph()
    device.CloseDevice()


def worker(index, name):
    try:
        run_on_device(index, name)
    except Exception as e:
        with print_lock:
            failures.append('%s: %r' % (name, e))


threads = [threading.Thread(target=worker, args=(i, name))
           for i, name in enumerate(devices)]
for t in threads:
    t.start()
for t in threads:
    t.join()

for i in sorted(lines):
    print(lines[i])
for report in sorted(device_reports):
    print(report)
if failures:
    for failure in failures:
        print('Error - ' + failure)
    sys.exit(1)
print('Finished: %d images on %d devices' % (len(lines), len(devices)))
