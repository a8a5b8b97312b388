// Command gpuplugin is a stand-in for NVIDIA's device plugin on a machine
// without GPUs: it speaks the kubelet's device-plugin API (v1beta1) and
// advertises -count nvidia.com/gpu devices. A container given some gets
// their ids in NVIDIA_VISIBLE_DEVICES, as from NVIDIA's plugin, and each
// allocation is appended to -log, one line of comma-separated ids, so a
// test can check the container saw exactly what was allocated.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	pluginapi "k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1"
)

const resource = "nvidia.com/gpu"

func main() {
	count := flag.Int("count", 4, "devices to advertise")
	allocations := flag.String("log", "/run/mlenv-k8s/gpu-allocations", "file each allocation is appended to")
	flag.Parse()
	p := &plugin{allocations: *allocations}
	for i := range *count {
		p.devices = append(p.devices, &pluginapi.Device{ID: fmt.Sprintf("GPU-standin-%d", i), Health: pluginapi.Healthy})
	}
	for {
		if err := p.serve(); err != nil {
			log.Print(err)
		}
		time.Sleep(time.Second)
	}
}

type plugin struct {
	pluginapi.UnimplementedDevicePluginServer
	devices     []*pluginapi.Device
	allocations string
	mu          sync.Mutex
}

// serve listens on the plugin's socket, registers with the kubelet and
// returns when the socket is gone (the kubelet removes the plugins'
// sockets when it restarts; then the plugin registers again).
func (p *plugin) serve() error {
	socket := filepath.Join(pluginapi.DevicePluginPath, "mlenv-gpu.sock")
	_ = os.Remove(socket)
	lis, err := net.Listen("unix", socket)
	if err != nil {
		return err
	}
	srv := grpc.NewServer()
	pluginapi.RegisterDevicePluginServer(srv, p)
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()
	if err := register(filepath.Base(socket)); err != nil {
		return fmt.Errorf("register with the kubelet: %w", err)
	}
	log.Printf("registered %d %s devices", len(p.devices), resource)
	for {
		time.Sleep(time.Second)
		if _, err := os.Stat(socket); errors.Is(err, os.ErrNotExist) {
			return errors.New("socket removed (kubelet restarted): registering again")
		}
	}
}

func register(endpoint string) error {
	conn, err := grpc.NewClient("unix://"+pluginapi.KubeletSocket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = pluginapi.NewRegistrationClient(conn).Register(ctx, &pluginapi.RegisterRequest{
		Version: pluginapi.Version, Endpoint: endpoint, ResourceName: resource,
	})
	return err
}

func (p *plugin) GetDevicePluginOptions(context.Context, *pluginapi.Empty) (*pluginapi.DevicePluginOptions, error) {
	return &pluginapi.DevicePluginOptions{}, nil
}

func (p *plugin) ListAndWatch(_ *pluginapi.Empty, s pluginapi.DevicePlugin_ListAndWatchServer) error {
	if err := s.Send(&pluginapi.ListAndWatchResponse{Devices: p.devices}); err != nil {
		return err
	}
	<-s.Context().Done()
	return nil
}

func (p *plugin) Allocate(_ context.Context, req *pluginapi.AllocateRequest) (*pluginapi.AllocateResponse, error) {
	var resp pluginapi.AllocateResponse
	for _, c := range req.ContainerRequests {
		ids := strings.Join(c.DevicesIds, ",")
		if err := p.record(ids); err != nil {
			return nil, err
		}
		resp.ContainerResponses = append(resp.ContainerResponses, &pluginapi.ContainerAllocateResponse{
			Envs: map[string]string{"NVIDIA_VISIBLE_DEVICES": ids},
		})
	}
	return &resp, nil
}

func (p *plugin) record(ids string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	f, err := os.OpenFile(p.allocations, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(f, ids)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
