// Starts DynamoDB Local (the real AWS jar) bound to one address instead of all interfaces.
//
// DynamoDBLocal.jar has no option for the listen address: its DynamoDBProxyServer builds a
// Jetty Server from the port alone, which binds 0.0.0.0. This launcher builds the server
// from the jar's usual command-line arguments (ServerRunner), sets the Jetty connector's
// host (and port: 0 picks a free one, which the jar's own parser refuses) before start,
// prints the address it listens on, then runs like the jar's own main. Java source-file
// mode runs it with no build step:
//
//   java -Djava.library.path=DIR/DynamoDBLocal_lib -Dddblocal.host=127.0.0.1 -Dddblocal.port=0 \
//     -cp 'DIR/DynamoDBLocal.jar:DIR/DynamoDBLocal_lib/*' DynamoDBLocalLoopback.java \
//     -inMemory -disableTelemetry
import com.amazonaws.services.dynamodbv2.local.main.ServerRunner;
import com.amazonaws.services.dynamodbv2.local.server.DynamoDBProxyServer;
import java.lang.reflect.Field;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

public class DynamoDBLocalLoopback {
  public static void main(String[] args) throws Exception {
    String host = System.getProperty("ddblocal.host", "127.0.0.1");
    DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
    Field field = DynamoDBProxyServer.class.getDeclaredField("server");
    field.setAccessible(true);
    Server server = (Server) field.get(proxy);
    Connector[] connectors = server.getConnectors();
    if (connectors.length == 0) {
      throw new IllegalStateException("DynamoDB Local created no connector");
    }
    String port = System.getProperty("ddblocal.port");
    for (Connector c : connectors) {
      ((ServerConnector) c).setHost(host);
      if (port != null) {
        ((ServerConnector) c).setPort(Integer.parseInt(port));
      }
    }
    proxy.start();
    System.out.println("listening on " + host + ":" + ((ServerConnector) connectors[0]).getLocalPort());
    proxy.join();
  }
}
